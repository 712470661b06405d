import Foundation

/// Whether two paths name the same file, through links and different spellings.
enum FileIdentity {
  /// `--rejected register.csv` (or a link to it) would replace the file being imported with its own bad rows.
  static func refuseOverwriting(input path: String, with rejectedFile: String) throws(FieldError) {
    var input = stat()
    var rejected = stat()
    guard stat(path, &input) == 0, stat(rejectedFile, &rejected) == 0,
      input.st_dev == rejected.st_dev, input.st_ino == rejected.st_ino
    else { return }
    throw FieldError(
      field: "rejected",
      problem: "\(rejectedFile) is the file being imported; the rejected rows would overwrite it (name another file)")
  }
}
