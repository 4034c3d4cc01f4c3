//! Choosing checkers by name or by workload. Filled in as checkers land.
