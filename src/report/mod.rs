//! Renderings of check results: text for people, JSON for machines, JUnit XML for CI.
