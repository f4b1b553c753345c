"""Policy rules as data: the JSONLogic subset they are written in, the rule-pack shape and the built-in pack."""
