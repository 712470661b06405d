import KPStockTestSupport
import Testing

@testable import Postgres

@Suite("SHA-256 checksums")
struct SHA256Tests {
  /// Lengths around the 55/56/64-byte padding boundaries, where an off-by-one would show.
  static let boundaryLengths = [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]

  @Test func theNISTExamplesHashToTheirPublishedDigests() {
    #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      SHA256.hex(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
      ) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    #expect(
      SHA256.hex(String(repeating: "a", count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Checksums recorded by earlier versions came from the server; the Swift digest must match them.
  @Test func theDigestEqualsWhatPostgreSQLComputesForTheSameText() throws {
    let connection = try TestDatabase.fresh().connect()
    let megabyte = String(decoding: (0..<1_048_576).map { UInt8(32 + $0 % 95) }, as: UTF8.self)
    var texts = [
      "", "abc", megabyte, "Näïve café — 🐄🐐 עברית e\u{0301} \u{00E9}", "line\r\nwith CRLF\n",
      String(repeating: "é", count: 1000),
    ]
    texts += Self.boundaryLengths.map { String(repeating: "x", count: $0) }
    texts += Self.boundaryLengths.map { String(repeating: "x", count: $0 - 1) + "é" }
    for text in texts {
      let server: String = try connection.value("SELECT encode(sha256(convert_to(\(text), 'UTF8')), 'hex')")
      #expect(SHA256.hex(text) == server, "text of \(text.utf8.count) bytes")
    }
  }
}
