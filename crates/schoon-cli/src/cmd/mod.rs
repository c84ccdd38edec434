//! One module per subcommand.

pub mod build;
pub mod check;
pub mod hash;
pub mod inspect;
pub mod keygen;
pub mod scan;
