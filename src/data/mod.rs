//! Datasets: IDX files (MNIST, Fashion-MNIST, KMNIST...).
