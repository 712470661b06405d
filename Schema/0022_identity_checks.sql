-- A phone or ID number has no place in kpstock (issue 14): not as a client's UIC, not in a ledger note.
--
-- A UIC holding a run of seven digits is a phone number (07XXXXXXXX), a national ID (7–8 digits) or a passport number
-- (a letter and 7 digits) typed where the code belongs; mat_clients_uic (0019) already refuses one. A ledger note
-- holding such a run, or a Kenyan mobile number written with spaces or dashes (0712 345 678, +254 712-345-678), is
-- refused alike. Both are checks on the columns' domains (0004), compiled once per session, so the everyday dispense
-- pays one regular expression on a note that is nearly always NULL. They are NOT VALID: a database that already
-- holds such rows still upgrades, and `kpstock privacy check` lists them to be fixed. The patterns are the ones
-- privacy_findings (Schema/functions/96_privacy.sql) searches for; a test holds the two together. A domain's checks
-- run in name order, so each is named after the check it extends and a UIC without a letter is worded as before.
ALTER DOMAIN client_uic
  ADD CONSTRAINT stock_events_client_uic_digits CHECK (VALUE !~ '[0-9]{7}') NOT VALID;
ALTER DOMAIN stock_event_note
  ADD CONSTRAINT stock_events_note_identifier
  CHECK (VALUE !~ '[0-9]{7}' AND VALUE !~ '(^|[^0-9])(\+?254[ .-]?|0)[17]([ .-]?[0-9]){8}') NOT VALID;
