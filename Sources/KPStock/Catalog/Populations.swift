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

  public static func listing(_ populations: [Population]) -> Listing {
    Listing(columns: ["code", "name"], rows: populations.map { [.text($0.code), .text($0.name)] })
  }
}
