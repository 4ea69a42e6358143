"""Validation checks (VEE): the basic limit checks that also run at ingest
(:mod:`~.basic`, feature ``validator:basic``) and the advanced checks (:mod:`~.advanced`,
feature ``advanced-validation``). Their array work is in :mod:`meterhub.extensions.veekit`."""
