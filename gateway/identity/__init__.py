"""Who is calling: partner systems with OAuth2 client credentials, people signed in
with OpenID Connect, and what each may touch."""
