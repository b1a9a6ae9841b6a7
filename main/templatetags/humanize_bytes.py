from django import template

register = template.Library()

_UNITS = ["bytes", "KB", "MB", "GB", "TB"]


@register.filter
def bytes_human(size: int | None) -> str:
    """Byte counts as people read them: 10.5 MB rather than 10516796 (decimal units)."""
    if size is None:
        return ""
    value = float(size)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"
