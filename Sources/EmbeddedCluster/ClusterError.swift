public struct ClusterError: Error, CustomStringConvertible, Sendable, Equatable {
  /// Lets callers react to a class of failure without parsing the message.
  public enum Kind: Sendable, Equatable {
    case binariesNotFound
    case serverAccountMissing
    case homeUnreachable
    case invalidConfiguration
    case fileSystem
    case processLaunch
    case initdbFailed
    case startFailed
    case stopFailed
    case createDatabaseFailed
  }

  public let kind: Kind
  public let description: String

  public init(_ kind: Kind, _ description: String) {
    self.kind = kind
    self.description = description
  }
}
