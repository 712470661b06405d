import Foundation

/// Field values as typed, keyed by column name, from CLI options or a CSV row.
///
/// A missing key leaves the stored value alone (on update) or is "required" (on add); an empty
/// string clears an optional field.
public struct InputValues: Sendable {
  public var values: [String: String]

  public init(_ values: [String: String] = [:]) { self.values = values }

  public subscript(column: String) -> String? {
    get { values[column] }
    set { values[column] = newValue }
  }

  public func required<T>(
    _ column: String, current: T?, _ parse: (String) throws(FieldError) -> T
  ) throws(FieldError) -> T {
    if let text = values[column] { return try parse(text) }
    if let current { return current }
    throw FieldError(field: column, problem: "is required")
  }

  public func optional<T>(
    _ column: String, current: T?, _ parse: (String) throws(FieldError) -> T
  ) throws(FieldError) -> T? {
    guard let text = values[column] else { return current }
    if text.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
    return try parse(text)
  }
}

extension CSVRow {
  /// The row's cells for the given columns; columns absent from the file are left out.
  public func inputValues(columns: [String]) -> InputValues {
    var values = InputValues()
    for column in columns where table.column(column) != nil {
      values[column] = self[column]
    }
    return values
  }
}
