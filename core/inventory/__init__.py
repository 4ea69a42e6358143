"""Operations on the domain model: create, change, move, copy, delete; validated, audited."""
