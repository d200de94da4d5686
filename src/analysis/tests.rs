//! Unit tests of the analysis detectors.
