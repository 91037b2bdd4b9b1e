"""Who is calling and what they may do: one caller model, one policy table, one interceptor.

`caller` names the kinds of caller; `tokens` keeps the bearer tokens of kiosk operators and the
national operator (hashed); `resolve` turns a call's certificate and metadata into a `Caller`;
`policy` says, for every RPC, which kinds may call it and over which municipality or operator;
`interceptor` applies both to every call. docs/security.md explains the choices.
"""
