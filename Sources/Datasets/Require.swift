// `require` and `grouped` come from Common, the helpers every module shares.
@_exported import Common
