// `require`, `monotonicSeconds`, `grouped` and `scaled` live in Common, the helpers every
// module shares; re-exported, so that the chapters' cells and the tests see them as before.
@_exported import Common
