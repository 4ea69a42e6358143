# expect: stopped cannot be changed
data.parameters["x"] = 1
data.values[0] = 5
