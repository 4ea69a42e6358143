# expect: refused str.format_map is not allowed
text = "{x.__class__}".format_map({"x": 1})
