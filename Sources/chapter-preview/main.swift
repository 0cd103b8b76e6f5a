// `chapter-preview`: the server of `chapter preview`, which builds this program and starts
// it with the settings it worked out (see `PreviewLaunch` for why it is a program of its own).
import ChapterPreview
import Foundation
import PreviewSetup

do {
  let (settings, port) = try PreviewLaunch.decode(Array(CommandLine.arguments.dropFirst()))
  try PreviewSession.serve(settings, port: port)
} catch let error as PreviewError {
  FileHandle.standardError.write(Data(("chapter: " + error.description + "\n").utf8))
  exit(2)
} catch {
  FileHandle.standardError.write(Data("chapter: \(error)\n".utf8))
  exit(1)
}
