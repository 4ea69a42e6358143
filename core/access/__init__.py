"""Access control: who may do what, and see which data, for the REST API, workers and the CLI.

* :mod:`~meterhub.access.catalog` — object types, actions, functions, the consistency rules;
* :mod:`~meterhub.access.context` — :class:`AccessContext`, the acting user and what they may do;
* :mod:`~meterhub.access.scope` — data segments, enforced in one place (:class:`Scope`);
* :mod:`~meterhub.access.passwords` — the password policy;
* :mod:`~meterhub.access.login` — logging in, lockout, expiry; :mod:`~meterhub.access.throttle`;
* :mod:`~meterhub.access.directory` — LDAP / Active Directory;
* :mod:`~meterhub.access.events` — logins, logouts and other events in the audit log.

Users, roles, tokens and system parameters are stored by :mod:`meterhub.model` and changed by
the operations of :mod:`meterhub.inventory` (``users``, ``roles``, ``tokens``, ``parameters``).
"""

from meterhub.access.context import AccessContext, context_for_user, system_context
from meterhub.access.scope import Scope

__all__ = ["AccessContext", "Scope", "context_for_user", "system_context"]
