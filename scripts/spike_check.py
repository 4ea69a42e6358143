# Spike check with the customer's own thresholds (purpose: check).
#
# Parameters:
#   max_value  the largest plausible value of one interval (the customer's connection)
#   factor     a value more than `factor` times both neighbours is a spike
#   min_value  spikes below this value are ignored (noise at night)
max_value = data.parameters.get("max_value", 10.0)
factor = data.parameters.get("factor", 3.0)
min_value = data.parameters.get("min_value", 0.05)

values = data.values
before = values.shift(1)
after = values.shift(-1)
neighbours = where(before > after, before, after)

spike = (values > neighbours * factor) & (values > min_value)
result.flag(spike, "spike: more than " + str(factor) + " times its neighbours")
result.flag(values > max_value, "above the customer's limit of " + str(max_value))
result.note(str(spike.count()) + " spikes")
