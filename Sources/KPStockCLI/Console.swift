import Foundation
import KPStock

/// stdout carries results; stderr carries notices and errors, so results can be piped cleanly.
enum Console {
  static func output(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  static func error(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
  }

  static func notice(_ line: String) {
    error("kpstock: \(line)")
  }
}
