import Postgres

/// A key population norms and outreach counts are kept for.
public struct Population: Sendable, Equatable {
  public var code: String
  public var name: String
}

public enum PopulationCatalog {
  public static func list(_ store: Store) throws -> [Population] {
    try store.run { connection in
      try connection.query("SELECT code, name FROM populations ORDER BY code").map {
        Population(code: try $0.decode("code"), name: try $0.decode("name"))
      }
    }
  }
}
