"""Operations on the domain model: create, change, move, copy and delete, each validated and audited."""
