// Runs the fixture section `9.1-traps.md`: `trap-probe OUTPUT-DIR KIND`, KIND one of
// index, nil, overflow. Its process ends the way `chapter run` would: exit 1 and the crash
// report on standard error.
import Foundation
import Notebook

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
  FileHandle.standardError.write(Data("usage: trap-probe OUTPUT-DIR index|nil|overflow\n".utf8))
  exit(2)
}
let options = RunOptions(overrides: ["kind": arguments[2]], outputDirectory: arguments[1], quiet: true)
let result = try SectionRunner.run(allSections[0], options: options)
if let message = result.failureMessage { FileHandle.standardError.write(Data((message + "\n").utf8)) }
exit(result.exitCode)
