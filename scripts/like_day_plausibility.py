# Plausibility against the mean of like days (purpose: check).
#
# The reference of each value is the mean of the same local time on the `days` most recent
# earlier days of the same day type (working day, Saturday, Sunday or holiday, special days),
# from the history MeterHub passes along. A value above `high` × reference or below
# `low` × reference is suspect; references at or below `min_reference` are not judged.
days = data.parameters.get("days", 3)
high = data.parameters.get("high", 2.5)
low = data.parameters.get("low", 0.2)
min_reference = data.parameters.get("min_reference", 0.01)

reference = data.like_day_mean(days)
judged = reference > min_reference
result.flag(judged & (data.values > reference * high), "above " + str(high) + " × like days")
result.flag(judged & (data.values < reference * low), "below " + str(low) + " × like days")
