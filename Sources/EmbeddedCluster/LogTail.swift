import Foundation

/// Turns the end of a tool's or the server's log into the one-line reason a ClusterError carries.
enum LogTail {
  /// ": <last line>" ready to append to a message, or nothing when the log is empty.
  static func suffix(of log: String) -> String {
    FileSystem.lastLines(of: log).last.map { ": \($0)" } ?? ""
  }

  /// The FATAL line alone is often only "configuration file ... contains errors"; the offending setting is named in
  /// an earlier LOG line, so those are kept in front of it.
  static func failureReason(inServerLog lines: [String]) -> String? {
    let severities = ["FATAL:", "PANIC:"]
    guard let fatal = lines.lastIndex(where: { line in severities.contains { line.contains($0) } }) else {
      return nil
    }
    let causes = lines[..<fatal].filter { $0.contains("ERROR:") || ($0.contains("LOG:") && $0.contains("parameter")) }
    return (causes + [lines[fatal]]).map(withoutLogPrefix).joined(separator: "; ")
  }

  /// Drops the timestamp and pid that log_line_prefix puts before the severity.
  private static func withoutLogPrefix(_ line: String) -> String {
    let severities = ["PANIC:", "FATAL:", "ERROR:", "LOG:"]
    let start = severities.compactMap { line.range(of: $0)?.lowerBound }.min() ?? line.startIndex
    return line[start...].replacingOccurrences(of: ":  ", with: ": ")
  }
}
