"""linter"""
