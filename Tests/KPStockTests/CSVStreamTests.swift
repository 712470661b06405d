import Foundation
import KPStock
import KPStockTestSupport
import Postgres
import Testing

/// A file in a folder of its own, removed when the last reference goes.
final class ScratchFile {
  let path: String

  init(_ bytes: [UInt8], named name: String = "f.csv") throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kpstock-stream-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    path = folder.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  convenience init(_ text: String, named name: String = "f.csv") throws {
    try self.init(Array(text.utf8), named: name)
  }

  deinit { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
}

struct StreamedFile: Equatable {
  var header: [String]
  var records: [Line]

  struct Line: Equatable {
    var line: Int
    var fields: [String]
  }
}

func stream(_ bytes: [UInt8], chunkSize: Int = 7) throws -> StreamedFile {
  let file = try ScratchFile(bytes)
  let stream = try CSVStream(path: file.path, chunkSize: chunkSize)
  var record = CSVStreamRecord()
  var records: [StreamedFile.Line] = []
  while try stream.next(into: &record) {
    records.append(.init(line: record.line, fields: record.fields))
  }
  return StreamedFile(header: stream.header, records: records)
}

/// The message `body` fails with, or nil when it succeeds.
func failureMessage(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch let error as KPStockError {
    return error.message
  } catch {
    return "unexpected \(error)"
  }
}

/// The message a stream refuses `bytes` with, or nil when it reads them to the end.
func streamFailure(_ bytes: [UInt8], chunkSize: Int = 7) -> String? {
  failureMessage { _ = try stream(bytes, chunkSize: chunkSize) }
}

@Suite("Streaming CSV reader")
struct CSVStreamTests {
  @Test func aByteOrderMarkIsSkipped() throws {
    let file = try stream([0xEF, 0xBB, 0xBF] + Array("code,name\nA1,x\n".utf8), chunkSize: 4)
    #expect(file.header == ["code", "name"])
    #expect(file.records == [.init(line: 2, fields: ["A1", "x"])])
  }

  @Test func crlfLineEndsAreOneLineEvenWhenSplitBetweenChunks() throws {
    for chunkSize in 4...9 {
      let file = try stream(Array("code,name\r\nA1,x\r\n\r\nB2,\"y\"\r\n".utf8), chunkSize: chunkSize)
      #expect(file.records == [.init(line: 2, fields: ["A1", "x"]), .init(line: 4, fields: ["B2", "y"])])
    }
  }

  @Test func lineBreaksInsideQuotesKeepLaterLineNumbersTrue() throws {
    let text = "code,name\nA1,\"two\nlines\"\nB2,\"three\r\nline\nbreaks\"\n\nC3,\"say \"\"hi\"\", ok\"\n"
    let file = try stream(Array(text.utf8))
    #expect(
      file.records == [
        .init(line: 2, fields: ["A1", "two\nlines"]), .init(line: 4, fields: ["B2", "three\r\nline\nbreaks"]),
        .init(line: 8, fields: ["C3", "say \"hi\", ok"]),
      ])
  }

  /// Whatever the chunk size, the stream reads files exactly as CSVReader does.
  @Test func readsAsCSVReaderDoesAtEveryChunkSize() throws {
    let files = [
      "code,name\nA1,\"Likoni, \"\"old\"\" DICE\"\nB2,\"two\nlines\"\nC3,plain",
      "\n\n Code , Name \r\n,,\r\nA1,  \r\n\"\",\"\"\r\n  ,\t\r\nB2,Caf\u{E9} \u{1F404}\r\n",
      "code\rA1\rB2\r\n\"é\"\n",
    ]
    for text in files {
      let whole = try CSVReader.parse(Array(text.utf8), fileName: "f.csv")
      let expected = StreamedFile(
        header: whole.header, records: whole.records.map { .init(line: $0.line, fields: $0.fields) })
      for chunkSize in [4, 5, 6, 7, 8, 9, 13, CSVStream.defaultChunkSize] {
        #expect(try stream(Array(text.utf8), chunkSize: chunkSize) == expected, "chunk size \(chunkSize)")
      }
    }
  }

  @Test func aRecordWithTheWrongNumberOfFieldsNamesItsLine() {
    let quotedBreakAbove = Array("code,name\nA1,x\nB2,\"y\nz\"\nC3\n".utf8)
    #expect(streamFailure(quotedBreakAbove) == "f.csv:5: has 1 fields, the header has 2")
    #expect(streamFailure(Array("code,name\nA1,x,y".utf8)) == "f.csv:2: has 3 fields, the header has 2")
  }

  @Test func invalidUTF8SplitBetweenChunksNamesItsLine() {
    // "name\nab\nxxxxx" is 13 bytes, so with 7-byte chunks the lead byte 0xC3 is the last byte of the second chunk.
    let prefix = Array("name\nab\nxxxxx".utf8)
    #expect(
      streamFailure(prefix + [0xC3, 0x28] + Array("\nok\n".utf8), chunkSize: 7)
        == "f.csv:3: not UTF-8 text (byte 0xC3); save the file as \"CSV UTF-8\"")
    #expect(
      streamFailure(prefix + [0xC3] + Array("\nok\n".utf8), chunkSize: 7)
        == "f.csv:3: not UTF-8 text (byte 0xC3); save the file as \"CSV UTF-8\"")
    #expect(
      streamFailure(Array("name\n\"a\nb\"\nCaf".utf8) + [0xE9] + Array("\n".utf8), chunkSize: 7)
        == "f.csv:4: not UTF-8 text (byte 0xE9); save the file as \"CSV UTF-8\"")
    #expect(streamFailure(prefix + [0xF0, 0x9F, 0x90], chunkSize: 7)?.hasPrefix("f.csv:3: not UTF-8 text") == true)
  }

  @Test func validUTF8SplitBetweenChunksIsRead() throws {
    for chunkSize in 4...9 {
      let file = try stream(Array("name\nab\nxxxxxé🐄\n".utf8), chunkSize: chunkSize)
      #expect(file.records == [.init(line: 2, fields: ["ab"]), .init(line: 3, fields: ["xxxxxé🐄"])])
    }
  }

  @Test func utf16IsRefusedWithAHint() {
    let message = "f.csv: the file is UTF-16 text; save it as \"CSV UTF-8\""
    #expect(streamFailure([0xFF, 0xFE, 0x63, 0x00, 0x0A, 0x00]) == message)
    #expect(streamFailure([0xFE, 0xFF, 0x00, 0x63], chunkSize: 4) == message)
  }

  @Test func malformedFilesAreRefusedAtTheLineOfTheProblem() {
    #expect(
      streamFailure(Array("code,name\nA1,\"open\nstill open\n".utf8)) == "f.csv:2: a quoted field is never closed")
    #expect(streamFailure(Array("code\nA\u{0}1\n".utf8))?.hasPrefix("f.csv:2: the file holds a NUL byte") == true)
    #expect(streamFailure(Array("code\nA\"1\n".utf8))?.hasPrefix("f.csv:2: stray quote inside a field") == true)
    #expect(streamFailure(Array("code\n\"A\"1\n".utf8))?.hasPrefix("f.csv:2: text after a closing quote") == true)
    #expect(streamFailure([]) == "f.csv: the file is empty; it needs a header row")
    #expect(streamFailure(Array("\n,,\n".utf8)) == "f.csv: the file is empty; it needs a header row")
  }

  @Test func headerRulesAreCSVReaders() throws {
    let file = try ScratchFile("code,nmae\nA1,x\n")
    let stream = try CSVStream(path: file.path)
    #expect(stream.column("CODE") == 0)
    #expect(
      failureMessage {
        try stream.requireColumns(required: ["code"], optional: ["name"])
      } == "f.csv:1: unknown column 'nmae' (expected code,name)")
    #expect(
      failureMessage {
        try stream.requireColumns(required: ["code", "name"])
      } == "f.csv:1: missing column 'name' (expected code,name)")
  }
}

@Suite("Staging a CSV file through COPY")
struct StagingTableTests {
  struct StagedRow: Equatable {
    var line: Int
    var code: String?
    var label: String?
    var note: String?
  }

  func rows(_ connection: Connection, _ table: String = "staged") throws -> [StagedRow] {
    try connection.query("SELECT line, code, label, note FROM \(identifier: table) ORDER BY line").map { row in
      StagedRow(
        line: try row.decode("line"), code: try row.decode("code"), label: try row.decode("label"),
        note: try row.decode("note"))
    }
  }

  func stage(_ file: ScratchFile, into connection: Connection, chunkSize: Int = 7) throws -> StagedFile {
    try StagingTable.load(
      connection: connection, file: file.path, fileName: "in.csv", required: ["code"], optional: ["label", "note"],
      tableName: "staged", chunkSize: chunkSize)
  }

  @Test func threeRowsArriveWithTheirLinesAndBlankCellsAsNull() throws {
    let connection = try TestDatabase.fresh().connect()
    let file = try ScratchFile("Label,CODE\r\nLikoni DICE,A1\r\n\r\n  ,B2\r\n\"Kwale\nstore\",C3\r\n")
    let staged = try stage(file, into: connection)
    #expect(staged.tableName == "staged" && staged.fileName == "in.csv")
    #expect(staged.columns == ["label", "code"] && staged.rowCount == 3)
    #expect(
      try rows(connection) == [
        StagedRow(line: 2, code: "A1", label: "Likoni DICE", note: nil),
        StagedRow(line: 4, code: "B2", label: nil, note: nil),
        StagedRow(line: 5, code: "C3", label: "Kwale\nstore", note: nil),
      ])
  }

  @Test func theFormulaGuardOfOurExportIsRemoved() throws {
    let connection = try TestDatabase.fresh().connect()
    let file = try ScratchFile("code,label,note\nA1,'=SUM(B1),'-5\nB2,'plain,'@x\nC3,'+1,''=\nD4,\"'\t\",'\n")
    _ = try stage(file, into: connection)
    #expect(
      try rows(connection) == [
        StagedRow(line: 2, code: "A1", label: "=SUM(B1)", note: "-5"),
        StagedRow(line: 3, code: "B2", label: "'plain", note: "@x"),
        StagedRow(line: 4, code: "C3", label: "+1", note: "''="),
        StagedRow(line: 5, code: "D4", label: nil, note: "'"),
      ])
  }

  @Test func backslashesTabsAndLineBreaksArriveUnchanged() throws {
    let connection = try TestDatabase.fresh().connect()
    let awkward = "back\\slash\ttab\nnew\r\nline\rcr \\N \\. end"
    let file = try ScratchFile("code,label,note\nA1,\"\(awkward)\",\\N\n\"\\.\",x,\\\n")
    _ = try stage(file, into: connection)
    #expect(
      try rows(connection) == [
        StagedRow(line: 2, code: "A1", label: awkward, note: "\\N"),
        StagedRow(line: 5, code: "\\.", label: "x", note: "\\"),
      ])
  }

  @Test func aBadRecordMidwayAbortsTheCopyAndNamesItsLine() throws {
    let connection = try TestDatabase.fresh().connect()
    // Well past one 256 KiB batch, so rows have reached the server before the bad one is read.
    let body = (1...20_000).map { "C\($0),site number \($0)\n" }.joined()
    let file = try ScratchFile("code,label\n" + body + "LAST\n")
    #expect(
      failureMessage {
        _ = try connection.transaction { connection in try stage(file, into: connection, chunkSize: 1 << 16) }
      } == "in.csv:20002: has 1 fields, the header has 2")
    #expect(
      failureMessage {
        _ = try stage(file, into: connection, chunkSize: 1 << 16)
      } == "in.csv:20002: has 1 fields, the header has 2")
    #expect(
      try connection.query("SELECT to_regclass('pg_temp.staged') IS NULL AS gone")[0].decode("gone") == true,
      "a failed load outside a transaction leaves no table behind")
    #expect(try connection.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
  }

  @Test func aBadHeaderIsRefusedBeforeAnyTableIsMade() throws {
    let connection = try TestDatabase.fresh().connect()
    let file = try ScratchFile("code,lbael\nA1,x\n")
    #expect(
      failureMessage {
        _ = try stage(file, into: connection)
      } == "in.csv:1: unknown column 'lbael' (expected code,label,note)")
    #expect(try connection.query("SELECT to_regclass('pg_temp.staged') IS NULL AS gone")[0].decode("gone") == true)
  }

  @Test func aTableAlreadyUsingTheNameIsLeftAlone() throws {
    let connection = try TestDatabase.fresh().connect()
    try connection.execute("CREATE TEMP TABLE staged (kept int)")
    try connection.execute("INSERT INTO staged VALUES (1)")
    let message = failureMessage { _ = try stage(try ScratchFile("code\nA1\n"), into: connection) }
    #expect(message?.contains("already exists") == true)
    #expect(try connection.query("SELECT count(kept) AS n FROM staged")[0].decode("n", as: Int.self) == 1)
  }

  @Test func twoHundredThousandRowsAreStagedWhole() throws {
    let connection = try TestDatabase.fresh().connect()
    var text = "code,label,note\n"
    for row in 1...200_000 {
      text += "SITE-\(row),\"Site \(row), Kwale\",\(row % 7 == 0 ? "" : "batch \(row % 13)")\n"
    }
    let file = try ScratchFile(text)
    var reports: [(bytesRead: Int, totalBytes: Int)] = []
    let staged = try StagingTable.load(
      connection: connection, file: file.path, required: ["code", "label"], optional: ["note"], tableName: "big",
      progress: { reports.append(($0, $1)) })
    #expect(staged.rowCount == 200_000)
    let summary = try connection.query(
      """
      SELECT count(*) AS n, max(line) AS last, count(note) AS notes,
             max(label) FILTER (WHERE code = 'SITE-200000') AS label
      FROM big
      """)[0]
    #expect(try summary.decode("n", as: Int.self) == 200_000)
    #expect(try summary.decode("last", as: Int.self) == 200_001)
    #expect(try summary.decode("notes", as: Int.self) == 200_000 - 200_000 / 7)
    #expect(try summary.decode("label", as: String.self) == "Site 200000, Kwale")
    #expect(reports.allSatisfy { $0.bytesRead <= $0.totalBytes && $0.totalBytes == text.utf8.count })
  }
}
