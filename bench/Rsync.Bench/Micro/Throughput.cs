using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace NetRsync.Bench.Micro;

/// <summary>What a throughput figure counts.</summary>
public enum ThroughputUnit
{
    /// <summary>Bytes processed; reported in MB/s (10^6 bytes per second).</summary>
    Bytes,

    /// <summary>File-list entries processed; reported in entries/s.</summary>
    Entries,
}

/// <summary>
/// Declares how much one benchmark operation processes, so <see cref="ThroughputColumn"/> can turn
/// the mean time into a rate. The amount is either fixed or read from a <c>[Params]</c> member.
/// Put it on a benchmark method, or on the class to cover every method in it.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = false)]
public sealed class ThroughputAttribute : Attribute
{
    public ThroughputAttribute(ThroughputUnit unit, long perOperation)
    {
        Unit = unit;
        PerOperation = perOperation;
    }

    public ThroughputAttribute(ThroughputUnit unit, string parameter)
    {
        Unit = unit;
        Parameter = parameter;
    }

    public ThroughputUnit Unit { get; }

    /// <summary>The fixed amount processed per operation, when <see cref="Parameter"/> is null.</summary>
    public long PerOperation { get; }

    /// <summary>The name of the <c>[Params]</c> member holding the amount processed per operation.</summary>
    public string? Parameter { get; }
}

/// <summary>
/// A summary column with the amount per operation (from <see cref="ThroughputAttribute"/>) divided
/// by the mean time per operation. It shows only in summaries where some benchmark declares that unit.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    public static readonly IColumn MegabytesPerSecond = new ThroughputColumn(ThroughputUnit.Bytes);
    public static readonly IColumn EntriesPerSecond = new ThroughputColumn(ThroughputUnit.Entries);

    private readonly ThroughputUnit _unit;

    private ThroughputColumn(ThroughputUnit unit) => _unit = unit;

    public string Id => nameof(ThroughputColumn) + "." + _unit;

    public string ColumnName => _unit == ThroughputUnit.Bytes ? "MB/s" : "entries/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => _unit == ThroughputUnit.Bytes
        ? "Throughput: bytes processed per operation / Mean, in MB/s (1 MB = 10^6 bytes)"
        : "Throughput: file-list entries processed per operation / Mean, in entries per second";

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => Find(c)?.Unit == _unit);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        ThroughputAttribute? attribute = Find(benchmarkCase);
        if (attribute is null || attribute.Unit != _unit)
            return "-";
        double? meanNanoseconds = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (meanNanoseconds is not > 0)
            return "NA";
        double amount = attribute.Parameter is null
            ? attribute.PerOperation
            : Convert.ToDouble(benchmarkCase.Parameters[attribute.Parameter], CultureInfo.InvariantCulture);
        double perSecond = amount / (meanNanoseconds.Value / 1e9);
        CultureInfo culture = style?.CultureInfo ?? CultureInfo.InvariantCulture;
        return _unit == ThroughputUnit.Bytes
            ? (perSecond / 1e6).ToString("N1", culture)
            : perSecond.ToString("N0", culture);
    }

    public override string ToString() => ColumnName;

    private static ThroughputAttribute? Find(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<ThroughputAttribute>()
        ?? benchmarkCase.Descriptor.Type.GetCustomAttribute<ThroughputAttribute>();
}

/// <summary>Adds the MB/s and entries/s columns; apply with <c>[Config(typeof(ThroughputConfig))]</c>.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig() =>
        AddColumn(ThroughputColumn.MegabytesPerSecond, ThroughputColumn.EntriesPerSecond);
}
