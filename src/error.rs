//! The one error type of volley. Every failure a user can cause is an [`Error`] with a message that
//! names the object, the parameter, the value and what is allowed.

use std::fmt;

/// Result alias used throughout volley.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in volley.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter of a model object (or of the simulator) is outside its allowed range.
    #[error("{object}: parameter `{param}` = {value} is invalid; allowed: {allowed}")]
    InvalidParameter {
        /// The object, e.g. `Ensemble "a"` or `Connection 3 (a -> b)`.
        object: String,
        /// The parameter name as the user spells it.
        param: String,
        /// The offending value, formatted.
        value: String,
        /// What would have been accepted.
        allowed: String,
    },
    /// An id (ensemble, node, probe...) that belongs to another network, or does not exist.
    #[error("{object}: {what} belongs to another network (or was never added to this one)")]
    ForeignObject {
        /// The object holding the reference.
        object: String,
        /// The referenced id.
        what: String,
    },
    /// The network cannot be compiled as described.
    #[error("{object}: {reason}")]
    Build {
        /// The object at fault.
        object: String,
        /// Why.
        reason: String,
    },
    /// A numerical routine (decoder solve) failed.
    #[error("{object}: numerical failure: {reason}")]
    Numerical {
        /// The object being built.
        object: String,
        /// What failed.
        reason: String,
    },
    /// A backend could not run the plan.
    #[error("backend {backend}: {reason}")]
    Backend {
        /// Backend name.
        backend: String,
        /// What went wrong, and what the user can do.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A state variable became NaN or infinite during a run.
    #[error("{buffer}: value {value} at index {index} after step {step} is not finite")]
    NonFinite {
        /// The buffer (state variable) holding the value.
        buffer: String,
        /// Flat index (instances x length) of the first non-finite value.
        index: usize,
        /// The value.
        value: f32,
        /// Steps run when it was found.
        step: u64,
    },
    /// A checkpoint that this run cannot continue (other settings, another model version); the
    /// run has not started and nothing was written.
    #[error("{0}")]
    Resume(String),
    /// Something else, with an explanation.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(
        object: impl fmt::Display,
        param: impl fmt::Display,
        value: impl fmt::Display,
        allowed: impl fmt::Display,
    ) -> Self {
        Error::InvalidParameter {
            object: object.to_string(),
            param: param.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }

    /// Shorthand for [`Error::Build`].
    pub fn build(object: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Error::Build {
            object: object.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn check_positive(object: &dyn fmt::Display, param: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(object, param, value, "a finite number > 0"))
    }
}

/// Checks that `value` is finite and >= 0.
pub(crate) fn check_non_negative(object: &dyn fmt::Display, param: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(object, param, value, "a finite number >= 0"))
    }
}

/// Checks that `value` is finite.
pub(crate) fn check_finite(object: &dyn fmt::Display, param: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(object, param, value, "a finite number"))
    }
}
