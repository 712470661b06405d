import KPStock

/// What `body` throws, as the person would read it, or nil when it throws nothing: tests compare refusals by
/// their wording.
public func thrownDescription(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch {
    return String(describing: error)
  }
}

/// The rows a refused register import names, as `FILE:LINE: field: problem`; nil when the error is not such a refusal.
public func refusedRows(_ error: any Error) -> [String]? {
  (error as? ImportRefused)?.report.rejected.map {
    "\($0.fileName):\($0.line): " + ($0.field.map { "\($0): " } ?? "") + $0.problem
  }
}
