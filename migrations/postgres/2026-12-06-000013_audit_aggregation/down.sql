-- Windows not yet written to the audit chain are lost with the table.
DROP TABLE audit_throttled;
