import CLibPQ
import Foundation

/// A NOTICE, WARNING or similar message the server sent alongside a statement's result.
///
/// Notices are the server talking to a DBA (`relation "schema_migrations" already exists, skipping`),
/// not output meant for the person running the program, so they are kept here for whoever wants to
/// look rather than printed.
public struct PostgresNotice: Sendable, Equatable, CustomStringConvertible {
  /// The untranslated severity: `NOTICE`, `WARNING`, `INFO`, `LOG` or `DEBUG`.
  public var severity: String
  public var sqlState: SQLState?
  public var message: String
  public var detail: String?
  public var hint: String?

  public var description: String { "\(severity): \(message)" }
}

/// The newest notices of one connection, filled in by libpq through a C callback.
///
/// A class so that libpq can hold a stable pointer to it; the connection owns it and outlives every
/// call libpq makes into it.
final class NoticeLog {
  /// Enough to see what the last few statements said, bounded so a chatty loop cannot grow memory.
  static let capacity = 50

  private(set) var notices: [PostgresNotice] = []

  func record(_ result: OpaquePointer) {
    func field(_ code: Int32) -> String? {
      PQresultErrorField(result, code).map { String(cString: $0) }
    }
    let message =
      field(CLIBPQ_DIAG_MESSAGE_PRIMARY)
      ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
    if notices.count == Self.capacity { notices.removeFirst() }
    notices.append(
      PostgresNotice(
        severity: field(CLIBPQ_DIAG_SEVERITY_NONLOCALIZED) ?? field(CLIBPQ_DIAG_SEVERITY) ?? "NOTICE",
        sqlState: field(CLIBPQ_DIAG_SQLSTATE).map(SQLState.init),
        message: message,
        detail: field(CLIBPQ_DIAG_MESSAGE_DETAIL),
        hint: field(CLIBPQ_DIAG_MESSAGE_HINT)))
  }

  func removeAll() { notices.removeAll() }
}

extension Connection {
  /// The notices the server sent on this connection, oldest first, at most `NoticeLog.capacity`.
  public var notices: [PostgresNotice] { noticeLog.notices }

  /// Forgets the notices seen so far, so that `notices` then shows only what later statements said.
  public func removeAllNotices() { noticeLog.removeAll() }

  /// Routes notices into `noticeLog` instead of libpq's default receiver, which prints them to stderr
  /// where they would interleave with the program's own output.
  func installNoticeReceiver() {
    let context = Unmanaged.passUnretained(noticeLog).toOpaque()
    PQsetNoticeReceiver(
      handle,
      { context, result in
        guard let context, let result else { return }
        Unmanaged<NoticeLog>.fromOpaque(context).takeUnretainedValue().record(result)
      }, context)
  }
}
