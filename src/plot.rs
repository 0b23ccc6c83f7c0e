//! Pictures: line plots and tuning curves written as PNG files (plotters).
