//! Turning spike counts into class predictions: label assignment and the two voting schemes of
//! Diehl & Cook (2015) and BindsNET.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// What the labelling pass learned about each neuron.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignments {
    /// The class for which each neuron's mean response is highest (`None` if it never spiked).
    pub class: Vec<Option<u8>>,
    /// Per neuron, the fraction of its mean response that falls on each class
    /// (shape `(n_neurons, n_classes)`), for proportion weighting.
    pub proportions: Array2<f64>,
}

/// Assigns each neuron the class for which its mean spike count is highest. `counts` has one
/// row per presentation (shape `(n_images, n_neurons)`), `labels` the class of each row.
/// Classes with no image contribute a mean of 0.
pub fn assign_labels(counts: ArrayView2<f64>, labels: &[u8], n_classes: usize) -> Assignments {
    let n = counts.ncols();
    let mut sums = Array2::<f64>::zeros((n_classes, n));
    let mut per_class = vec![0usize; n_classes];
    for (row, &l) in counts.rows().into_iter().zip(labels) {
        let l = l as usize;
        if l < n_classes {
            per_class[l] += 1;
            sums.row_mut(l).scaled_add(1.0, &row);
        }
    }
    for (c, &k) in per_class.iter().enumerate() {
        if k > 0 {
            sums.row_mut(c).mapv_inplace(|v| v / k as f64);
        }
    }
    let mut class = vec![None; n];
    let mut proportions = Array2::<f64>::zeros((n, n_classes));
    for i in 0..n {
        let col = sums.column(i);
        let total: f64 = col.sum();
        if total > 0.0 {
            let mut best = 0;
            for c in 1..n_classes {
                if col[c] > col[best] {
                    best = c;
                }
            }
            class[i] = Some(best as u8);
            for c in 0..n_classes {
                proportions[[i, c]] = col[c] / total;
            }
        }
    }
    Assignments { class, proportions }
}

fn argmax(v: &Array1<f64>) -> Option<u8> {
    let mut best: Option<usize> = None;
    for (c, &x) in v.iter().enumerate() {
        if best.is_none_or(|b| x > v[b]) {
            best = Some(c);
        }
    }
    best.filter(|&b| v[b] > 0.0).map(|b| b as u8)
}

/// "All activity" voting: the class whose assigned neurons have the highest mean spike count.
/// `None` when no assigned neuron spiked.
pub fn predict_all_activity(
    counts: ArrayView1<f64>,
    a: &Assignments,
    n_classes: usize,
) -> Option<u8> {
    let mut sum = Array1::<f64>::zeros(n_classes);
    let mut n = vec![0usize; n_classes];
    for (i, &c) in a.class.iter().enumerate() {
        if let Some(c) = c {
            sum[c as usize] += counts[i];
            n[c as usize] += 1;
        }
    }
    for c in 0..n_classes {
        if n[c] > 0 {
            sum[c] /= n[c] as f64;
        }
    }
    argmax(&sum)
}

/// Proportion weighting: each neuron votes for every class with its spike count times the
/// fraction of its labelling response that fell on that class.
pub fn predict_proportion(counts: ArrayView1<f64>, a: &Assignments) -> Option<u8> {
    let votes = a.proportions.t().dot(&counts);
    argmax(&votes)
}

/// A confusion matrix `m[true][predicted]`; predictions of `None` are counted in column
/// `n_classes` (no vote).
pub fn confusion(truth: &[u8], predicted: &[Option<u8>], n_classes: usize) -> Array2<u64> {
    let mut m = Array2::<u64>::zeros((n_classes, n_classes + 1));
    for (&t, p) in truth.iter().zip(predicted) {
        let col = p.map_or(n_classes, |p| p as usize);
        m[[t as usize, col]] += 1;
    }
    m
}

/// Both votes for every row of `counts` (one row per presentation) with assignments `a`:
/// `(all activity, proportion weighting)`.
pub fn predict_both(
    counts: ArrayView2<f64>,
    a: &Assignments,
    n_classes: usize,
) -> (Vec<Option<u8>>, Vec<Option<u8>>) {
    counts
        .rows()
        .into_iter()
        .map(|c| {
            (
                predict_all_activity(c, a, n_classes),
                predict_proportion(c, a),
            )
        })
        .unzip()
}

/// Fraction of correct predictions (`None` counts as wrong).
pub fn accuracy(truth: &[u8], predicted: &[Option<u8>]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let right = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| **p == Some(**t))
        .count();
    right as f64 / truth.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn assignment_and_both_votes_on_hand_made_counts() {
        // Neurons 0,1 answer class 0; neuron 2 class 1; neuron 3 never spikes.
        let counts = array![
            [5.0, 3.0, 0.0, 0.0],
            [4.0, 5.0, 1.0, 0.0],
            [0.0, 1.0, 6.0, 0.0],
            [1.0, 0.0, 4.0, 0.0],
        ];
        let labels = [0, 0, 1, 1];
        let a = assign_labels(counts.view(), &labels, 2);
        assert_eq!(a.class, vec![Some(0), Some(0), Some(1), None]);
        // neuron 1: mean 4 for class 0, 0.5 for class 1.
        assert!((a.proportions[[1, 0]] - 4.0 / 4.5).abs() < 1e-12);
        assert_eq!(
            predict_all_activity(array![3.0, 2.0, 1.0, 0.0].view(), &a, 2),
            Some(0)
        );
        assert_eq!(
            predict_all_activity(array![0.0, 1.0, 3.0, 0.0].view(), &a, 2),
            Some(1)
        );
        assert_eq!(
            predict_all_activity(array![0.0, 0.0, 0.0, 9.0].view(), &a, 2),
            None
        );
        // All activity: class 0 mean (1+1)/2 = 1 < class 1 mean 1.5; proportion: neuron 1's
        // weight 0.89 on class 0 ... votes class0 = 1*1 + 1*0.889 + 1.5*0.1 ...
        let c = array![1.0, 1.0, 1.5, 0.0];
        assert_eq!(predict_all_activity(c.view(), &a, 2), Some(1));
        let p = predict_proportion(c.view(), &a).unwrap();
        let votes0 =
            1.0 * a.proportions[[0, 0]] + 1.0 * a.proportions[[1, 0]] + 1.5 * a.proportions[[2, 0]];
        let votes1 =
            1.0 * a.proportions[[0, 1]] + 1.0 * a.proportions[[1, 1]] + 1.5 * a.proportions[[2, 1]];
        assert_eq!(p, if votes0 > votes1 { 0 } else { 1 });
        assert_eq!(
            p, 0,
            "proportion weighting disagrees with all-activity here"
        );
    }

    #[test]
    fn labels_assigned_on_the_scored_responses_flatter_them() {
        // Labelling responses: neuron 0 answers class 0, neuron 1 class 1. On the test responses
        // their roles are swapped, so labels from the labelling pass get every test image wrong,
        // and labels assigned on the test responses themselves (what the public stdp-mnist
        // evaluation script does) get every one right.
        let label_counts = array![[4.0, 1.0], [1.0, 4.0]];
        let test_counts = array![[1.0, 3.0], [2.0, 0.0], [3.0, 1.0], [0.0, 5.0]];
        let truth = [0, 1, 1, 0];
        let honest = assign_labels(label_counts.view(), &[0, 1], 2);
        let (all, prop) = predict_both(test_counts.view(), &honest, 2);
        assert_eq!(all, vec![Some(1), Some(0), Some(0), Some(1)]);
        assert_eq!(
            (accuracy(&truth, &all), accuracy(&truth, &prop)),
            (0.0, 0.0)
        );
        let own = assign_labels(test_counts.view(), &truth, 2);
        assert_eq!(own.class, vec![Some(1), Some(0)]);
        let (all, prop) = predict_both(test_counts.view(), &own, 2);
        assert_eq!(
            (accuracy(&truth, &all), accuracy(&truth, &prop)),
            (1.0, 1.0)
        );
    }

    #[test]
    fn confusion_and_accuracy() {
        let t = [0, 1, 1, 2];
        let p = [Some(0), Some(1), Some(2), None];
        let m = confusion(&t, &p, 3);
        assert_eq!(m[[1, 2]], 1);
        assert_eq!(m[[2, 3]], 1);
        assert_eq!(accuracy(&t, &p), 0.5);
    }
}
