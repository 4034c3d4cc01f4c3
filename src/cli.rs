//! The command line: parse, dispatch to the library, map results to exit codes.
