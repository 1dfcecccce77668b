"""One test module per rule, named after the rule's module in rules/ (test_<module>.py)."""
