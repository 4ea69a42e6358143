"""Estimation methods (VEE): none, insert null, linear interpolation and last plausible value
(:mod:`~.basic`, feature ``estimator:basic``); mean of like days, hierarchical and check-meter
substitution (:mod:`~.advanced`, feature ``advanced-validation``)."""
