/// An error that means the run's input was bad (a missing data set, a value
/// out of range), not that a cell's code failed: the CLI exits with code 2.
public protocol BadInput: Error {}
