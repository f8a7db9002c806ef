"""The API's endpoint families: each parses its filters and answers from the data."""
