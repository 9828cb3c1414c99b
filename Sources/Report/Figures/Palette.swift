/// Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008), ordered so the first colours contrast most on white;
/// yellow comes last because it is faint on a white background. More than 8 configurations cycle.
enum Palette {
    static let okabeIto: [Color] = [
        Color(hex: 0x0072B2),  // blue
        Color(hex: 0xD55E00),  // vermillion
        Color(hex: 0x009E73),  // bluish green
        Color(hex: 0xCC79A7),  // reddish purple
        Color(hex: 0xE69F00),  // orange
        Color(hex: 0x56B4E9),  // sky blue
        Color(hex: 0x000000),  // black
        Color(hex: 0xF0E442),  // yellow
    ]

    static func color(_ index: Int) -> Color { okabeIto[index % okabeIto.count] }
}
