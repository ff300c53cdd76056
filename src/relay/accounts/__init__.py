"""Dashboard account security: passwords (change, reset by link), two-factor sign-in
(TOTP and recovery codes), and the browser sessions a user can see and end."""
