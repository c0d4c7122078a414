//! `kairos import ...`: bring a store's data in from outside (SPEC 16 "Integrations"). Each source is a
//! subcommand with a file of its own here.

mod csv;

use clap::Subcommand;

pub use csv::CsvArgs;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import a CSV file of contacts (with consent), orders (a line item per row) or products; prints
    /// `imported N, rejected M` last and writes rejected rows to FILE.rejected.csv.
    Csv(CsvArgs),
}

pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Csv(args) => csv::run(args),
    }
}
