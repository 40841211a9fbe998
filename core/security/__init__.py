"""Security policies per organisation, two-step verification (TOTP) and branding checks."""
