"""One module per table (or DynamoDB table) a function owns. SQL lives here and in `sql/`,
nowhere else.
"""
