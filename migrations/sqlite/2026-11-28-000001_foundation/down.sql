DROP TABLE audit_events;
DROP TABLE client_roles;
DROP TABLE clients;
DROP TABLE user_roles;
DROP TABLE users;
