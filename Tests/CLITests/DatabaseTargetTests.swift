import Testing

@testable import KPStockCLI

@Suite("Database target")
struct DatabaseTargetTests {
  @Test func theFlagWinsThenDatabaseURLThenPGVariablesThenTheEmbeddedCluster() {
    let env = ["DATABASE_URL": "postgres://env/db", "PGHOST": "/tmp", "KPSTOCK_HOME": "/tmp/kp"]
    #expect(
      DatabaseTarget.resolve(databaseURL: "postgres://flag/db", environment: env).conninfo == "postgres://flag/db")
    #expect(DatabaseTarget.resolve(databaseURL: nil, environment: env).conninfo == "postgres://env/db")
    guard case .libpqEnvironment = DatabaseTarget.resolve(databaseURL: nil, environment: ["PGDATABASE": "x"]) else {
      Issue.record("PG* variables should select libpq's environment")
      return
    }
    guard
      case .embedded(let cluster) = DatabaseTarget.resolve(databaseURL: nil, environment: ["KPSTOCK_HOME": "/tmp/kp"])
    else {
      Issue.record("no server named should select the embedded cluster")
      return
    }
    #expect(cluster.configuration.home == "/tmp/kp")
  }

  @Test func passwordsNeverReachTheDescription() {
    let url = DatabaseTarget.server("postgres://kp:s3cret@db.example/kpstock").description
    #expect(!url.contains("s3cret"))
    let conninfo = DatabaseTarget.server("host=db user=kp password='s3 cret' dbname=kpstock").description
    #expect(!conninfo.contains("s3"))
  }
}
