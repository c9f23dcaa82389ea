//! docker-style tables: columns padded to their widest cell, three spaces apart.

/// Prints a header and rows of a fixed width.
pub fn print<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|row| row.iter().map(String::as_str).collect())
        .collect();
    print_rows(header, &rows);
}

/// Prints a header and rows whose width is known only at run time (`top`).
pub fn print_rows<S: AsRef<str>>(header: &[S], rows: &[Vec<S>]) {
    let columns = header.len();
    let mut widths = vec![0usize; columns];
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.as_ref().chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut out = String::new();
        for (index, cell) in row.iter().enumerate() {
            let cell = cell.as_ref();
            if index + 1 == columns {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}   ", width = widths[index]));
            }
        }
        println!("{}", out.trim_end());
    }
}
