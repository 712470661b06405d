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
