pub mod bench;
pub mod mnist;
